"""1×1 convolutions as matrix products over pixels, for the dream on the CPU.

On one thread PyTorch sends 1×1 convolutions of fewer than 16 images to its slow fallback
(oneDNN is kept for multi-threaded runs); on a channels-last tensor the same map is one matrix
product over the pixels, forward and backward, without a copy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def per_pixel(x: torch.Tensor) -> torch.Tensor:
    """`[N, C, H, W]` as `[N, H, W, C]`: a view without a copy when `x` is channels-last."""
    return x.permute(0, 2, 3, 1)


class PointwiseConv2d(nn.Conv2d):
    """A 1×1, stride-1 convolution that runs as a matrix product on channels-last CPU tensors."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.device.type == "cpu" and x.is_contiguous(memory_format=torch.channels_last):
            return F.linear(per_pixel(x), self.weight.flatten(1), self.bias).permute(0, 3, 1, 2)
        return super().forward(x)


def is_pointwise(conv: nn.Module) -> bool:
    return (type(conv) is nn.Conv2d and conv.kernel_size == (1, 1) and conv.stride == (1, 1)
            and conv.padding == (0, 0) and conv.dilation == (1, 1) and conv.groups == 1)


def as_pointwise(conv: nn.Conv2d) -> PointwiseConv2d:
    """The same convolution (sharing its weights) in the matrix-product form."""
    pointwise = PointwiseConv2d(conv.in_channels, conv.out_channels, 1, bias=conv.bias is not None,
                                device=conv.weight.device, dtype=conv.weight.dtype)
    pointwise.weight, pointwise.bias = conv.weight, conv.bias
    return pointwise
