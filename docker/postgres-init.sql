-- second database for the shared Optuna studies (MLflow uses POSTGRES_DB)
CREATE DATABASE optuna;
