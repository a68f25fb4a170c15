def test_home_page_for_admin(client, login_as):
    login_as("admin")
    response = client.get("/")
    assert response.status_code == 200
    assert "Welkom" in response.get_data(as_text=True) or "Welcome" in response.get_data(as_text=True)
