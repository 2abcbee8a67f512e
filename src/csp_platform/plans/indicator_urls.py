"""The performance management framework's pages and the board report (docs/plans.md)."""

from django.urls import path

from csp_platform.plans import indicator_views as views

app_name = "indicators"
urlpatterns = [
    path("indicators/", views.indicator_list, name="list"),
    path("indicators/<uuid:indicator>/", views.indicator_detail, name="detail"),
    path("indicators/<uuid:indicator>/return/", views.indicator_return, name="enter_return"),
    path("board/", views.board, name="board"),
    path("board.docx", views.board_docx, name="board_docx"),
]
