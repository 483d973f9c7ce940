from django.contrib import admin

from ironclad.admin import ModelAdmin
from todos.models import Category, Task


@admin.register(Task)
class TaskAdmin(ModelAdmin):
    list_display = ["id", "title", "user", "completed", "priority", "due_date", "category", "created_at"]
    list_filter = ["completed", "priority", "recurrence", "due_date"]
    list_select_related = ["user", "category"]
    search_fields = ["title", "user__email"]
    readonly_fields = ["id", "previous_occurrence", "completed_at", "created_at", "updated_at"]
    raw_id_fields = ["user", "category"]
    date_hierarchy = "created_at"


@admin.register(Category)
class CategoryAdmin(ModelAdmin):
    list_display = ["id", "name", "color", "user", "created_at"]
    list_select_related = ["user"]
    search_fields = ["name", "user__email"]
    readonly_fields = ["id", "created_at", "updated_at"]
    raw_id_fields = ["user"]
