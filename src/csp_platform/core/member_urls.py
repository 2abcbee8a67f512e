from django.urls import path

from csp_platform.core import member_views as views

app_name = "members"
urlpatterns = [
    path("", views.member_list, name="list"),
    path("<int:member_id>/", views.member_change, name="change"),
    path("<int:member_id>/remove/", views.member_remove, name="remove"),
]
