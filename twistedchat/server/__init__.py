"""The server process: options, config file, operators and the service tree."""
