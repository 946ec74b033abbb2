def add_arguments(p):
    from sweeps.options import add_arguments as sweep_arguments

    sweep_arguments(p)
