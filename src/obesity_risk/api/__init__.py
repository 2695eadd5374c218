"""FastAPI service serving the registered champion."""
