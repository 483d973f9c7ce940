from accounts.models import User
from ironclad.serializers import ModelSerializer


class MeSerializer(ModelSerializer):
    class Meta:
        model = User
        fields = ["id", "name", "email", "email_verified", "image", "created_at"]
        read_only_fields = fields
