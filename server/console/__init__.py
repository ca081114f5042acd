"""The web console: static HTML, JavaScript modules and CSS (``static/``), served on the API's
origin by the API server's ConsoleService. Standard library only."""
