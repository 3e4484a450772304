"""Training as background jobs: launching, the job body, run folders and what they hold."""
