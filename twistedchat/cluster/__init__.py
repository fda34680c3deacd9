"""
Several nodes, one chat: the nodes share an ordered log of commands in Redis.

Each node appends the commands its users give to one Redis stream and applies
every entry of that stream, its own included, in the stream's order, to its
own full copy of the chat's state: every node then holds the same rooms,
members and topics and delivers each room's events in the same order. See
docs/SCALING.md. Without the CLUSTER setting none of this is imported: one
process, nothing else installed.
"""
