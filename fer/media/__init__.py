"""The user's media: photos analysed one by one, live video frame by frame, and a webcam session's summary."""
