"""hpstudy.experiment."""
