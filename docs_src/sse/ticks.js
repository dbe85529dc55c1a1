const source = new EventSource("/ticks");
source.addEventListener("tick", (event) => console.log(JSON.parse(event.data).n));
