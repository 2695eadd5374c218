"""Credentials for the throw-away S3 endpoint (moto accepts any)."""

from __future__ import annotations

AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}
