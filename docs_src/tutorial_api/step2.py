from typing import Annotated

from pydantic import BaseModel, Field

from lanner import HTTPException, Lanner, Query

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
async def list_tasks(
    done: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> list[Task]:
    found = [t for t in TASKS.values() if done is None or t.done == done]
    return found[:limit]


@app.get("/tasks/{task_id:int}")
async def get_task(task_id: int) -> Task:
    if task_id not in TASKS:
        raise HTTPException(404, f"No task {task_id}")
    return TASKS[task_id]


@app.delete("/tasks/{task_id:int}", status_code=204)
async def delete_task(task_id: int) -> None:
    if TASKS.pop(task_id, None) is None:
        raise HTTPException(404, f"No task {task_id}")
