"""Sweeps: Ray Tune + Optuna + ASHA over the methods of wsvad, tracked in MLflow.

Wrappers around Ray and MLflow live in one module each (`driver`/`trainable` for Ray Tune,
`tracking` for MLflow) so that an API change touches one file. Nothing heavy is imported here.
"""
