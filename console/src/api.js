// The console's only way to the server: GraphQL over HTTP with the steward's token.
const TOKEN_KEY = "idgraph.token";

export function graphqlUrl() {
  return document.getElementById("app").dataset.graphql || "/graphql";
}

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** A failed operation: the server's messages and codes, or the HTTP status. */
export class ApiError extends Error {
  constructor(message, code, status) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

/** Run one GraphQL operation; resolves to `data`, rejects with an ApiError. */
export async function gql(query, variables = {}) {
  let response;
  try {
    response = await fetch(graphqlUrl(), {
      method: "POST",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${getToken()}` },
      body: JSON.stringify({ query, variables }),
    });
  } catch (error) {
    throw new ApiError(`the server did not answer (${error.message})`, "NETWORK", 0);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    throw new ApiError(`the server answered HTTP ${response.status}`, "HTTP", response.status);
  }
  // GraphQL errors, or the service's HTTP error body ({"error": {"code", "message"}}).
  const errors = body.errors || (body.error ? [{ message: body.error.message, extensions: { code: body.error.code } }] : []);
  if (errors.length) {
    const first = errors[0];
    const code = (first.extensions && first.extensions.code) || (response.status === 401 ? "UNAUTHENTICATED" : "ERROR");
    throw new ApiError(errors.map((e) => e.message).join("; "), code, response.status);
  }
  if (!response.ok) throw new ApiError(`the server answered HTTP ${response.status}`, "HTTP", response.status);
  return body.data;
}
