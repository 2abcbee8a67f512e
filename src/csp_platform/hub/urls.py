from django.urls import path

from csp_platform.hub import analysis_views, views

app_name = "hub"
urlpatterns = [
    path("", views.hub, name="hub"),
    path("map.json", views.map_data, name="map_data"),
    path("trend.json", views.trend_data, name="trend_data"),
    path("points.json", views.points_data, name="points_data"),
    path("hotspots.json", views.hotspots_data, name="hotspots_data"),
    path("export/wards.csv", views.export_aggregates, {"table": "wards"}, name="export_wards"),
    path("export/trend.csv", views.export_aggregates, {"table": "trend"}, name="export_trend"),
    path(
        "export/categories.csv",
        views.export_aggregates,
        {"table": "categories"},
        name="export_categories",
    ),
    path("export/points.csv", views.export_points, name="export_points"),
    path("wards/", analysis_views.ward_list, name="wards"),
    path("wards/<str:code>/", analysis_views.ward, name="ward"),
    path("sia/", analysis_views.sia, name="sia"),
    path("sia/export.csv", analysis_views.export_sia, name="export_sia"),
    path("forecast/", analysis_views.forecast, name="forecast"),
]
