"""The `fer` command line: subcommands and TrainConfig as flags."""
