from pkg.freeze import freeze_mixed

freeze_mixed(build_model())
