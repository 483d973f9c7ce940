import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('accounts', '0002_user_verbose_name'),
    ]

    operations = [
        migrations.CreateModel(
            name='IdempotentRequest',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.TextField()),
                ('fingerprint', models.TextField()),
                ('status', models.PositiveSmallIntegerField(blank=True, null=True)),
                ('headers', models.JSONField(blank=True, default=dict)),
                ('body', models.BinaryField(blank=True, default=b'')),
                ('created_at', models.DateTimeField(db_column='createdAt')),
                ('user', models.ForeignKey(db_column='userId', db_index=False, on_delete=django.db.models.deletion.DB_CASCADE, related_name='+', to='accounts.user')),
            ],
            options={
                'db_table': 'idempotency_key',
                'indexes': [models.Index(fields=['created_at'], name='idempotency_key_created')],
                'constraints': [models.UniqueConstraint(models.F('user'), models.F('key'), name='idempotency_key_user_key_uniq')],
            },
        ),
    ]
