from django.db import migrations

from memory.templates_builtin import seed


class Migration(migrations.Migration):
    dependencies = [("memory", "0002_vector_indexes")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
