"""The core: rooms, sessions and events, with no knowledge of any wire format."""
