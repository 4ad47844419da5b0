"""The one-way ferry (软交换 / 网闸): exchange-zone outbox -> UDP with FEC over a one-way link -> decision inbox.

Layers: `manifest` (schema, pure), `container` (batch <-> bytes, pure), `wire` (datagram header, pure),
`fec` (blocks and Reed-Solomon parity, pure), `journal` (append-only state, I/O), `sender`, `receiver`.
"""
