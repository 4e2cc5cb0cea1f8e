"""Turn a photo (and a guide image) into a Prisma-like artwork, as the book's PrismaWorker.

Modules: `params` (every setting, declared once), `images` and `files` (reading and writing),
`masks`, `blend`, `enhance`, `registry` (which networks and layers exist, without torch),
`backbones` (the networks themselves) and `efficientnet_lite`, `dream`, `style` (fast style),
`painting` (the 26 painting filters), `gatys` (the book's neural style), `pipeline` (the whole
render), `cost` (time estimates); `memory`, `pointwise` and `onnx_sessions` serve the others.
"""
