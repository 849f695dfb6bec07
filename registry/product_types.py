"""The product types (as the Photo-z Server has them): the one place their names are spelled.

Migrations keep their own literal copies (a migration must not change when code does).
"""

from __future__ import annotations

REFERENCE_REDSHIFT_CATALOG = "Reference Redshift Catalog"
TRAINING_SET = "Training Set"
TRAINING_RESULTS = "Training Results"
VALIDATION_RESULTS = "Validation Results"
PHOTOZ_ESTIMATES = "Photo-z Estimates"
OTHER = "Other"

PRODUCT_TYPES = (
    REFERENCE_REDSHIFT_CATALOG,
    TRAINING_SET,
    TRAINING_RESULTS,
    VALIDATION_RESULTS,
    PHOTOZ_ESTIMATES,
    OTHER,
)
