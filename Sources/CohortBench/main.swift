print("{\"scenario\":\"none\"}")
