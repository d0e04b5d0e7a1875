"""SQL models, migrations, queries and the blob store. Nothing else."""
