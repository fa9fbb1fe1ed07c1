"""What users run and read (layer 4): ``experiment`` (the framework: theory, procedure, tolerance, provenance),
``labs`` (handouts, per-student parameters, graders), ``demo`` and ``demo6to4`` (``testbed demo``), ``bench``,
``benchcontrol`` and ``benchsixtofour`` (``testbed bench ...``).

May import: layers 0-3.
"""
