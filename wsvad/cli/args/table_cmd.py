def add_arguments(p):
    from sweeps.table import add_arguments as table_arguments

    table_arguments(p)
