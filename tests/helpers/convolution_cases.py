"""Convolutions a backend's ``convolution`` fast path is checked on against ``keras.ops.conv``.

Name -> (frames shape, kernel shape, ``keras.ops.conv`` options): every rank,
``valid`` and ``same`` padding, strides, dilation, even kernels, and a kernel
as large as the frame. ``tests/backend/test_torch_nn.py`` and
``test_jax_convolution.py`` run them (each adds the cases its path refuses).
"""

CONVOLUTIONS = {
    "1d-valid": ((2, 9, 3), (3, 3, 5), {"strides": 1, "padding": "valid", "dilation_rate": 1}),
    "1d-same-even": ((2, 9, 3), (4, 3, 5), {"strides": 1, "padding": "same", "dilation_rate": 1}),
    "1d-valid-strided-dilated": ((2, 11, 3), (3, 3, 5), {"strides": 2, "padding": "valid", "dilation_rate": 2}),
    "2d-same": ((2, 6, 7, 3), (3, 3, 3, 4), {"strides": (1, 1), "padding": "same", "dilation_rate": (1, 1)}),
    "2d-same-dilated": ((2, 7, 7, 2), (3, 2, 2, 4), {"strides": 1, "padding": "same", "dilation_rate": (2, 1)}),
    "2d-same-even-dilated": ((2, 7, 7, 2), (4, 2, 2, 4), {"strides": 1, "padding": "same", "dilation_rate": (2, 1)}),
    "2d-valid-strided": ((2, 7, 8, 2), (3, 2, 2, 4), {"strides": (2, 3), "padding": "valid", "dilation_rate": 1}),
    "3d-same": ((2, 4, 5, 3, 2), (3, 3, 1, 2, 4), {"strides": 1, "padding": "same", "dilation_rate": 1}),
    "3d-valid-kernel-as-large-as-frame": (
        (1, 3, 4, 2, 2),
        (3, 4, 2, 2, 3),
        {"strides": 1, "padding": "valid", "dilation_rate": 1},
    ),
}


def keras_conv(options):
    """The reference the fast paths are checked against: ``keras.ops.conv`` (channels last) plus the bias."""
    import keras

    def reference(x, kernel, bias=None):
        z = keras.ops.conv(x, kernel, data_format="channels_last", **options)
        return z if bias is None else z + bias

    return reference
