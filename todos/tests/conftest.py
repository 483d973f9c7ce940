import pytest

from todos.models import Category, Task


@pytest.fixture
def make_task(db):
    def make(user, title: str = "A task", **fields) -> Task:
        return Task.objects.create(user=user, title=title, **fields)

    return make


@pytest.fixture
def make_category(db):
    def make(user, name: str = "Work", **fields) -> Category:
        return Category.objects.create(user=user, name=name, **fields)

    return make
