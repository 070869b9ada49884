"""``kerasrnn.cli``: the ``kerasrnn`` command line (click), one module per concern.

The sources live in ``cli/`` at the top of the repository and are installed as
the subpackage ``kerasrnn.cli`` (``[tool.setuptools] package-dir`` in
``pyproject.toml``); modules import each other as ``kerasrnn.cli.<module>``.

* :mod:`~kerasrnn.cli.main` -- the ``kerasrnn`` group: commands registered by
  name and imported when used, the error policy (one-line errors, exit codes).
* :mod:`~kerasrnn.cli.backend` -- ``KERAS_BACKEND``, chosen before Keras is
  imported.
* :mod:`~kerasrnn.cli.options` -- options shared by the commands, and the
  ``fit`` options generated from :class:`~kerasrnn.training.run_config.RunConfig`.
* :mod:`~kerasrnn.cli.checks` -- what is checked before Keras is imported
  (run directories, input files, output paths).
* :mod:`~kerasrnn.cli.fit` -- ``fit`` (and ``fit --resume``).
* :mod:`~kerasrnn.cli.run_commands` -- ``evaluate``, ``predict``, ``generate``.
* :mod:`~kerasrnn.cli.listings` -- ``archs``, ``datasets``, ``presets``, ``env``.
* :mod:`~kerasrnn.cli.export` -- ``export`` (SavedModel, ONNX).
* :mod:`~kerasrnn.cli.bench` -- ``bench``.
* :mod:`~kerasrnn.cli.output` -- the ``kerasrnn`` logger's stderr handler and
  the formatting of results.

No module imports Keras at module level: ``--backend`` must set
``KERAS_BACKEND`` first, and ``kerasrnn --help`` and the listings stay fast.
"""
