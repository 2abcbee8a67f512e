from django.urls import path

from csp_platform.incidents import views

app_name = "incidents"
urlpatterns = [
    path("", views.data, name="data"),
    path("upload/", views.upload, name="upload"),
]
