"""Turn a photo (and a guide image) into a Prisma-like artwork, as the book's PrismaWorker.

Modules: `params` (every setting, declared once), `images`, `masks`, `blend`, `enhance`,
`backbones`, `dream`, `pipeline` (the whole render), `cost` (time estimates).
"""
