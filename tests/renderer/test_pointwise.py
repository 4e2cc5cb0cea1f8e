import pytest
import torch
from torch import nn

from prismarec.renderer.pointwise import PointwiseConv2d, as_pointwise, is_pointwise


@pytest.mark.parametrize("memory_format", [torch.channels_last, torch.contiguous_format])
def test_matrix_product_form_is_the_convolution_forward_and_backward(memory_format):
    torch.manual_seed(0)
    conv = nn.Conv2d(24, 40, 1)
    pointwise = as_pointwise(conv)
    x = torch.randn(2, 24, 9, 13).contiguous(memory_format=memory_format)
    outs, grads = [], []
    for module in (conv, pointwise):
        pixels = x.clone().requires_grad_(True)
        y = module(pixels)
        (grad,) = torch.autograd.grad(y.pow(2).sum(), pixels)
        outs.append(y)
        grads.append(grad)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-5, atol=1e-5)
    assert pointwise.weight is conv.weight  # shares the weights, no copy


def test_only_plain_one_by_one_convolutions_change_form():
    assert is_pointwise(nn.Conv2d(8, 8, 1))
    assert not is_pointwise(nn.Conv2d(8, 8, 3, padding=1))
    assert not is_pointwise(nn.Conv2d(8, 8, 1, stride=2))
    assert not is_pointwise(nn.Conv2d(8, 8, 1, groups=8))
    assert not is_pointwise(PointwiseConv2d(8, 8, 1))
