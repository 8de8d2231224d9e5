API_V1 = "/api/v1"
