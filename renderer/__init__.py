"""Turn a photo (and a guide image) into a Prisma-like artwork, as the book's PrismaWorker."""

from .backbones import Backbone, BackboneError, list_layers, load_backbone
from .blend import blend, box_mean, keep_map
from .dream import dream
from .enhance import enhance, list_enhancements
from .images import ImageError, load_image
from .masks import list_masks, make_mask
from .params import RenderParams
from .pipeline import RenderResult, render

__all__ = [
    "Backbone", "BackboneError", "ImageError", "RenderParams", "RenderResult", "blend", "box_mean", "dream",
    "enhance", "keep_map", "list_enhancements", "list_layers", "list_masks", "load_backbone", "load_image",
    "make_mask", "render",
]
