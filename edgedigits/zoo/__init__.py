"""The model zoo: every model from the five seed projects, plus our own.

Importing this package registers every family module below; each module is one seed project.
"""

# Imported for their @register_model side effects, in the order `edgedigits zoo` lists them:
# the seed projects by number, then our own.
from edgedigits.zoo import seed000_codebasics  # noqa: F401  isort: skip
from edgedigits.zoo import seed001_dnn_vs_cnn  # noqa: F401  isort: skip
from edgedigits.zoo import seed002_mlp_logits  # noqa: F401  isort: skip
from edgedigits.zoo import seed003_activation_study  # noqa: F401  isort: skip
from edgedigits.zoo import seed004_tiny_mse  # noqa: F401  isort: skip
from edgedigits.zoo import edgedigits_own  # noqa: F401  isort: skip
from edgedigits._tf import tf_keras
from edgedigits.zoo.edgedigits_own import conv_bn_relu
from edgedigits.zoo.registry import (
    OPTIMIZERS,
    Augmentation,
    ModelSpec,
    SeedFigure,
    TrainingRecipe,
    create_model,
    describe_models,
    get_spec,
    list_models,
    register_model,
)

__all__ = [
    "OPTIMIZERS",
    "Augmentation",
    "ModelSpec",
    "SeedFigure",
    "TrainingRecipe",
    "conv_bn_relu",
    "create_model",
    "describe_models",
    "get_spec",
    "list_models",
    "register_model",
    "tf_keras",
]
