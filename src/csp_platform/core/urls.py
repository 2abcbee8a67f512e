from django.urls import path

from csp_platform.core import member_views, views

app_name = "core"
urlpatterns = [
    path("", views.home, name="home"),
    path("sign-in/", views.sign_in, name="sign_in"),
    path("sign-out/", views.sign_out, name="sign_out"),
    path(
        "set-password/<str:uidb64>/<str:token>/",
        member_views.set_password,
        name="set_password",
    ),
]
