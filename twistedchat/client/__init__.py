"""The twistedchat terminal client: framed protocol, console, rendering."""
