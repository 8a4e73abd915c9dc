# Makes the repository root importable in tests (torchreid, eval_lib) without installing.
