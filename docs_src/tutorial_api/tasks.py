from typing import Annotated

from pydantic import BaseModel, Field

from lanner import Depends, HTTPException, Lanner, Query, Router


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    done: bool = False


class Task(TaskIn):
    id: int


class Store:
    """Where tasks live; a real app would hold a database connection here."""

    def __init__(self) -> None:
        self.tasks: dict[int, Task] = {}

    def add(self, data: TaskIn) -> Task:
        task = Task(id=len(self.tasks) + 1, **data.model_dump())
        self.tasks[task.id] = task
        return task

    def get(self, task_id: int) -> Task:
        if task_id not in self.tasks:
            raise HTTPException(404, f"No task {task_id}")
        return self.tasks[task_id]


STORE = Store()


def get_store() -> Store:
    return STORE


Tasks = Annotated[Store, Depends(get_store)]
router = Router(prefix="/tasks", tags=["tasks"])


@router.post("", status_code=201)
async def create_task(data: TaskIn, store: Tasks) -> Task:
    """Add a task."""
    return store.add(data)


@router.get("")
async def list_tasks(
    store: Tasks,
    done: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[Task]:
    """List tasks, optionally only the done (or not done) ones."""
    found = [t for t in store.tasks.values() if done is None or t.done == done]
    return found[:limit]


@router.get("/{task_id:int}")
async def get_task(task_id: int, store: Tasks) -> Task:
    """Fetch one task."""
    return store.get(task_id)


@router.patch("/{task_id:int}")
async def finish_task(task_id: int, store: Tasks) -> Task:
    """Mark a task as done."""
    task = store.get(task_id)
    task.done = True
    return task


app = Lanner(title="Tasks", version="1.0.0")
app.include_router(router)
