"use strict";
// Log in with a JSON request (a plain cross-site form cannot send one), then open the tool.
document.getElementById("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const error = document.getElementById("login-error");
  error.textContent = "";
  const response = await fetch("/api/login", {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify({name: document.getElementById("name").value,
                          password: document.getElementById("password").value}),
  });
  if (!response.ok) {
    error.textContent = (await response.json()).error;
    return;
  }
  const me = await response.json();
  window.location.assign(me.role === "admin" ? "/adjudicate" : "/");
});
