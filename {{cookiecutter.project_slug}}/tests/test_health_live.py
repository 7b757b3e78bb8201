def test_liveness_answers_without_services(client):
    response = client.get("/health/live/")
    assert response.status_code == 200
    assert response.json() == {"status": "alive"}
    assert "no-cache" in response["Cache-Control"]
