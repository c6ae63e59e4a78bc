lesson {
  title = "Request routing",
  goal = "send every request to reviews v1, then jason's to v2, by header",
  duration = "1 min",
}
