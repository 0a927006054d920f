"""The bulletin use case: compose 周周比/月月评/final/催报, draft, publish, chart; shared by chat and scheduler."""
