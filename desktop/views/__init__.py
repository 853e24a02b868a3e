"""One module per page: translate_page, corpus_page, data_page, train_page, compare_page,
models_page, settings_page; loss_plot.py draws the Train page's curve; widgets.py holds the
small widgets the pages share."""
