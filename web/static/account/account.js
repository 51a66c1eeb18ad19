// The pages a mailed link opens (web/account_pages.py): each sends the link's token to
// one GraphQL mutation of the same server and says how it went.
(function () {
  "use strict";

  var MUTATIONS = {
    verifyEmail: "mutation Verify($token: String!) { verifyEmail(token: $token) }",
    confirmEmailChange: "mutation Confirm($token: String!) { confirmEmailChange(token: $token) }",
    resetPassword:
      "mutation Reset($token: String!, $password: String!) " +
      "{ resetPassword(token: $token, newPassword: $password) }",
  };
  var DONE = {
    verifyEmail: "Your email address is verified. You can close this page.",
    confirmEmailChange: "Your account now uses this email address. You can close this page.",
    resetPassword:
      "Your password was changed and every device was signed out. Sign in with the new password.",
  };

  var action = document.body.getAttribute("data-action");
  var form = document.getElementById("form");
  var status = document.getElementById("status");
  var token = new URLSearchParams(window.location.search).get("token") || "";
  // From here on the token is in no address bar, history entry or Referer.
  if (window.location.search) {
    window.history.replaceState(null, "", window.location.pathname);
  }

  function show(text, kind) {
    status.textContent = text;
    status.className = kind;
  }

  function firstProblem(body) {
    var error = (body.errors || [])[0];
    if (!error) return null;
    var fields = (error.extensions || {}).fields || {};
    return fields.newPassword || fields.token || error.message;
  }

  if (!token) {
    form.hidden = true;
    show("This page needs the link from your mail: open the link again.", "error");
    return;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var variables = { token: token };
    if (action === "resetPassword") {
      var password = document.getElementById("password").value;
      if (password !== document.getElementById("repeat").value) {
        show("The two passwords differ.", "error");
        return;
      }
      variables.password = password;
    }
    document.getElementById("submit").disabled = true;
    show("One moment...", "");
    // Relative: the pages and the API share one base, under PUBLIC_URL's path too.
    fetch("graphql", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      credentials: "same-origin",
      body: JSON.stringify({ query: MUTATIONS[action], variables: variables }),
    })
      .then(function (response) {
        return response.json();
      })
      .then(function (body) {
        var problem = firstProblem(body);
        if (problem) {
          document.getElementById("submit").disabled = false;
          show(problem, "error");
        } else {
          form.hidden = true;
          show(DONE[action], "done");
        }
      })
      .catch(function () {
        document.getElementById("submit").disabled = false;
        show("The server could not be reached; try again.", "error");
      });
  });
})();
