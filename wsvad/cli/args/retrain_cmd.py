def add_arguments(p):
    from sweeps.retrain_options import add_arguments as retrain_arguments

    retrain_arguments(p)
