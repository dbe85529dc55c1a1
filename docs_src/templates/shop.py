from datetime import date

from lanner import Lanner, Request, Response, Router
from lanner.templating import Templates

app = Lanner()
templates = Templates("templates", trim_blocks=True)  # relative to this file; options go to Jinja2
app.static("/static", "static")

PRODUCTS = {
    1: {"id": 1, "name": "Tea", "cents": 450},
    2: {"id": 2, "name": "<b>Cake</b>", "cents": 300},
}


@templates.context_processor
def site(request: Request) -> dict[str, object]:
    return {"site_name": "Corner shop", "year": date.today().year}  # every render sees these


@app.template_filter("price")
def price(cents: int) -> str:
    return f"€{cents / 100:.2f}"


@app.get("/")
async def home(request: Request) -> Response:
    return templates.render(request, "home.html", {"products": PRODUCTS.values()})


@app.get("/products/{product_id:int}")
async def product(request: Request, product_id: int) -> Response:
    if product_id not in PRODUCTS:
        return templates.render(request, "missing.html", status_code=404)
    return templates.render(request, "product.html", {"product": PRODUCTS[product_id]})


# A router is a blueprint: its own template folder (searched first) and route names ("blog.index").
blog = Router(prefix="/blog", name="blog", templates="blog_templates")


@blog.get("/")
async def index(request: Request) -> Response:
    return templates.render(request, "blog_index.html", {"posts": ["Opening day", "New cakes"]})


app.include_router(blog)
