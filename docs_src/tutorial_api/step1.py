from pydantic import BaseModel, Field

from lanner import Lanner

app = Lanner(title="Tasks")


class TaskIn(BaseModel):
    title: str = Field(min_length=1, max_length=100)
    done: bool = False


class Task(TaskIn):
    id: int


TASKS: dict[int, Task] = {}


@app.post("/tasks", status_code=201)
async def create_task(data: TaskIn) -> Task:
    task = Task(id=len(TASKS) + 1, **data.model_dump())
    TASKS[task.id] = task
    return task


@app.get("/tasks")
async def list_tasks() -> list[Task]:
    return list(TASKS.values())
